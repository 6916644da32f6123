"""Built-in local reference models (``local/<variant>``): render a structured prompt offline into a real MP4.

Speech is espeak-ng, the face is a real photo (``skimage.data.astronaut``) whose mouth follows the
speech envelope, foley objects meet a surface at the stated times, the room is a measured synthetic
impulse response. Each variant adds one documented defect (:data:`VARIANTS`); the ground truth of
every clip is returned with it.
"""

from workbench.synth.render import RenderedClip, render_clip
from workbench.synth.variants import VARIANTS

__all__ = ["VARIANTS", "RenderedClip", "render_clip"]
