"""The errors the VTA hardware model raises, all subclasses of `HardwareError`.

Every message names what was expected, what was found, and where (the instruction index,
its listing, the field or the buffer).
"""

from frittata.errors import HardwareError


class ConfigError(HardwareError):
    """A hardware configuration is not buildable (non power of two, fields too wide, ...)."""


class EncodingError(HardwareError):
    """An instruction or micro-op field does not fit its bit width, or a word does not decode."""


class EmitError(HardwareError):
    """The emitter was asked for something the runtime cannot express (3 loops, huge kernel...)."""


class StreamError(HardwareError):
    """An instruction stream is illegal: no final FINISH, a flag meaningless for its module..."""


class TokenError(StreamError):
    """A dependency-token protocol violation: a deadlock (no module can start, whether for lack
    of a token or for a full queue) or tokens left over at the end."""


class AddressError(StreamError):
    """An SRAM or DRAM access falls outside its buffer."""


class HazardError(StreamError):
    """A GEMM writes the same accumulator row within the pipeline's hazard window."""


class ResourceError(ConfigError):
    """A design does not fit its FPGA part: the message names each overflowing resource (LUTs,
    flip-flops, block RAM, AXI bits) or the clock its critical path cannot reach."""
