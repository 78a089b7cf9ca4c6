"""Ready-made models built with the trainer's symbolic API."""
