"""Replacements for Axolotl functions, one module per Axolotl module family.

Each public name here is a factory ``f(original, variant) -> replacement`` named in
``fast_axolotl.registry``. A replacement has the original's name, signature and docstring,
keeps the original as ``__wrapped__``, and calls it for every input the native kernel
does not reproduce exactly.
"""
