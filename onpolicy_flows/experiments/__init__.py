"""Experiments over finished runs. This folder's own modules read run directories (`runs`,
`compressed`, `episodes`) and the published numbers (`reference`); three pipelines build on
them, each importing only those to its right: `results` (docs/results.md) -> `figures` (the
paper's figures) -> `grids` (running and harvesting declared grids). May import `replay` and
everything below it; its own modules import none of the three."""
