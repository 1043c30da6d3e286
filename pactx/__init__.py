"""pactx: validated, source-grounded records of international security agreements from news text.

>>> import pactx
>>> result = pactx.extract("Mali, Niger and Burkina Faso signed a mutual defense pact.")
>>> [p.code for p in result.agreements[0].parties]
['MLI', 'NER', 'BFA']
"""

from pactx import batch_api
from pactx._version import __version__
from pactx.batch import FailureInfo, Outcome, aextract_many, extract_many
from pactx.batch_api import BatchPart, BatchStatus, CollectReport
from pactx.batch_api import cancel as cancel_batch
from pactx.batch_api import collect as collect_batch
from pactx.batch_api import status as batch_status
from pactx.batch_api import submit as submit_batch
from pactx.errors import (
    ConfigurationError,
    ExtractionError,
    ExtractionValidationError,
    InputError,
    InternalError,
    PactxError,
    ProviderError,
    ReplayMissError,
)
from pactx.extraction import Extractor, aextract, extract
from pactx.prompts import Prompt, load_prompt
from pactx.providers import ProviderConfig
from pactx.schema import (
    AgreementStatus,
    AgreementType,
    Amount,
    CooperationArea,
    Evidence,
    ExtractionResult,
    Obligation,
    Party,
    PartyKind,
    PartyRole,
    Provision,
    ProvisionType,
    RunMetadata,
    SecurityAgreement,
    TerminationReason,
    TokenUsage,
)
from pactx.transport import RetryPolicy

__all__ = [
    "__version__",
    "AgreementStatus",
    "AgreementType",
    "Amount",
    "BatchPart",
    "BatchStatus",
    "CollectReport",
    "ConfigurationError",
    "CooperationArea",
    "Evidence",
    "ExtractionError",
    "ExtractionResult",
    "ExtractionValidationError",
    "Extractor",
    "FailureInfo",
    "InputError",
    "InternalError",
    "Obligation",
    "Outcome",
    "PactxError",
    "Party",
    "PartyKind",
    "PartyRole",
    "Prompt",
    "ProviderConfig",
    "ProviderError",
    "Provision",
    "ProvisionType",
    "ReplayMissError",
    "RetryPolicy",
    "RunMetadata",
    "SecurityAgreement",
    "TerminationReason",
    "TokenUsage",
    "aextract",
    "aextract_many",
    "batch_status",
    "cancel_batch",
    "collect_batch",
    "extract",
    "extract_many",
    "load_prompt",
    "submit_batch",
]
