"""The hostile corpus (``corpus``) and the per-media-type inertness checkers (``checks``)."""
