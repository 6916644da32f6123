"""The local reference models' renderer: a structured prompt into a real MP4, offline and deterministic.

Speech is espeak-ng, the face is a real photo (``skimage.data.astronaut``) whose mouth follows the
speech envelope, foley objects meet a surface at the stated times, the room is a measured synthetic
impulse response. Each variant adds one documented defect (:data:`.variants.VARIANTS`); the ground
truth of every clip is returned with it (:func:`.render.render_clip`).
"""
