"""Adapters to recommendation frameworks.

``gcl.rec.recbole`` converts :class:`gcl.data.InteractionGraph` splits to RecBole atomic
files and makes RecBole 1.2.1 import and run on current numpy / scipy / torch
(``pip install gcl[rec]``). Importing :mod:`gcl.rec` never imports RecBole.
"""
