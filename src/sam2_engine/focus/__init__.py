"""Prompt-centred windows: segment small objects in large images at the model's best scale.

SAM 2 squashes a whole image into its square input. A 20 px nucleus of a 1024 px image
then covers 5 px of a 256 px model input: far below what a small model resolves. Here
every object is looked at through its own square *window* of the frame, sized so that the
object fills about a third of it (:class:`WindowPolicy`), resampled to the model input:
the object's scale in the model is the same whatever the image size. Used by the image
predictor (clicks and boxes), the video session (one window per tracked object, which
follows it) and the automatic mask generator (tiles), when the model recommends it.
"""
