"""blobedu: what Stalwart does with a message when its S3 blob store is unreachable, run for real."""

from .clock import RealClock, VirtualClock
from .durations import format_duration, parse_duration
from .errors import BlobeduError
from .faults import Fault, FaultPlan
from .store import S3BlobStore, StoreConfig, put
from .versions import LATEST, VERSIONS, behaviour, table_rows

__all__ = [
    "BlobeduError", "Fault", "FaultPlan", "LATEST", "RealClock", "S3BlobStore", "StoreConfig", "VERSIONS",
    "VirtualClock", "behaviour", "format_duration", "parse_duration", "put", "table_rows",
]
