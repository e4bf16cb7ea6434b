"""OneEdit engine: GAN, encoder, projection, one-example direction, closed-form alpha, edit transfer.

Pure torch / numpy / OpenCV. No Prefect, no file formats beyond checkpoints.
"""
