"""Audio I/O and signal measures without torch: probing, decoding, overviews, quality."""
