"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from sqlmodel import SQLModel

import app.core.models  # noqa: F401  (naming convention first)
from app.authoring import models as authoring_models  # noqa: F401
from app.catalog import models as catalog_models  # noqa: F401
from app.clinics import models as clinic_models  # noqa: F401
from app.fhir import models as fhir_models  # noqa: F401
from app.identity import models as identity_models  # noqa: F401
from app.outbox import models as outbox_models  # noqa: F401
from app.outcomes import models as outcome_models  # noqa: F401
from app.progress import models as progress_models  # noqa: F401

metadata = SQLModel.metadata
