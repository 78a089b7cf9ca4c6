"""Packages: the repository's top-level folders become subpackages of `tessera`."""

from setuptools import find_packages, setup

COMPONENTS = ("trainer", "exporter", "conformance")

packages = ["tessera"]
package_dir = {"tessera": "tessera"}
for top in COMPONENTS:
    package_dir[f"tessera.{top}"] = top
    packages += [f"tessera.{top}"] + [f"tessera.{top}.{sub}" for sub in find_packages(top)]

setup(packages=packages, package_dir=package_dir)
