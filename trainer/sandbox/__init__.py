"""Theano's `sandbox` names that tutorials import (`trainer.sandbox.rng_mrg.MRG_RandomStreams`)."""
