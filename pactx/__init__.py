"""pactx: validated, source-grounded records of international security agreements from news text.

>>> import pactx
>>> result = pactx.extract("Mali, Niger and Burkina Faso signed a mutual defense pact.")
>>> [p.code for p in result.agreements[0].parties]
['MLI', 'NER', 'BFA']
"""

from pactx._version import __version__
from pactx.batch import FailureInfo, Outcome, aextract_many, extract_many
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
    "extract",
    "extract_many",
    "load_prompt",
]
