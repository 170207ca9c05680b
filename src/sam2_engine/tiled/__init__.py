"""Overlapping tiles for models made for whole images (the official SAM 2 checkpoints).

An official model squashes any image into its 1024 x 1024 input: on a 16,384 px slide a
20 px nucleus becomes 1.25 px and vanishes. Here an image much larger than the model
input is cut into overlapping tiles at full resolution (:class:`TilingSettings`,
:class:`TileGrid`); each tile is encoded once; a prompt is decoded on the tile that
holds it best and a mask cut by a tile border is completed on the neighbouring tiles
(:class:`TiledPrompts`); automatic segmentation runs tile by tile and merges objects
cut by borders (:func:`merge_tile_masks`). :mod:`.image_tiles` is the tiled image of an
``ImagePredictor``: set up, embedded, answering ``predict``.
"""
