"""v6 shapes of job types and their revisions."""
from __future__ import annotations

from typing import Any, overload

from chalicelib.domain import JobRecord, JobTypeRecord, RevisionRecord
from chalicelib.seed import Manifest, redact_secrets
from chalicelib.timeutil import iso

# The icon a job type without one is shown with: the original console's own fallback (its recipe graph draws
# `f1b2`, Font Awesome's "cube", for a job type without an icon). Never null: the console prints
# `&#x<icon_code>;` over the name, which reads "&#xnull;" for a null.
DEFAULT_ICON_CODE = "f1b2"


@overload
def job_type_base(job_type: JobTypeRecord) -> dict[str, Any]: ...
@overload
def job_type_base(job_type: JobTypeRecord | None) -> dict[str, Any] | None: ...
def job_type_base(job_type: JobTypeRecord | None) -> dict[str, Any] | None:
    if job_type is None:
        return None
    return {
        "id": job_type.id,
        "name": job_type.name,
        "version": job_type.version,
        "title": job_type.title,
        "description": job_type.description,
        "is_active": job_type.is_active,
        "is_system": job_type.is_system,
        "is_paused": job_type.is_paused,
        "is_published": job_type.is_published,
        "icon_code": job_type.icon_code or DEFAULT_ICON_CODE,
        "unmet_resources": job_type.unmet_resources,
    }


def job_type_list_item(job_type: JobTypeRecord) -> dict:
    item = job_type_base(job_type)
    item.update({
        "max_scheduled": job_type.max_scheduled,
        "max_tries": job_type.max_tries,
        "revision_num": job_type.revision_num,
        "docker_image": job_type.docker_image,
        "created": iso(job_type.created),
        "deprecated": iso(job_type.deprecated),
        "paused": iso(job_type.paused),
        "last_modified": iso(job_type.last_modified),
    })
    return item


def job_type_details(job_type: JobTypeRecord) -> dict:
    """With the manifest and the configuration, secret settings removed."""
    manifest = Manifest.from_validated(job_type.manifest)
    item = job_type_list_item(job_type)
    item.update({"manifest": job_type.manifest,
                 "configuration": redact_secrets(job_type.configuration or {}, manifest)})
    return item


def job_type_rev_summary(job: JobRecord) -> dict[str, Any]:
    return {"id": job.job_type_rev_id, "job_type": {"id": job.job_type_id},
            "revision_num": job.job_type_revision_num}


def job_type_rev_details(revision: RevisionRecord | None, job_type: JobTypeRecord | None,
                         job: JobRecord) -> dict[str, Any]:
    base = job_type_base(job_type) or {"id": job.job_type_id}
    return {
        "id": job.job_type_rev_id,
        "job_type": base,
        "revision_num": job.job_type_revision_num,
        "docker_image": revision.docker_image if revision else None,
        "created": iso(revision.created) if revision else None,
        "manifest": revision.manifest if revision else None,
    }
