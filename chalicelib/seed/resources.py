"""The resources a job needs, from its manifest and the size of its input files."""
from __future__ import annotations

from chalicelib.seed.manifest import Manifest

# Floors from Scale: the pre and post steps of every job need at least this much.
MIN_CPUS = 0.25
MIN_MEM_MIB = 128.0


def job_resources(manifest: Manifest, input_file_size_mib: float | None) -> dict[str, float]:
    """Seed's formula `value + inputMultiplier * input size (MiB)` for every scalar resource of the
    manifest (custom ones such as `sharedMem` included, under their manifest names), then:

    - `cpus` at least 0.25 and `mem` at least 128 (MiB), also when the manifest omits them;
    - `disk` (MiB) at least the input size, as the inputs are copied to it; the input size when the
      manifest omits it;
    - `gpus` is always present: 0.0 when the manifest omits it.

    An unknown input size (None) counts as 0, as in Scale. Every value is a float, e.g.
    `{"cpus": 0.25, "mem": 128.0, "disk": 1.0, "gpus": 0.0}` for a manifest without resources and
    1 MiB of input.
    """
    size = float(input_file_size_mib or 0.0)
    if size < 0:
        raise ValueError(f"input size must not be negative: {input_file_size_mib}")
    resources = {"cpus": MIN_CPUS, "mem": MIN_MEM_MIB, "disk": size, "gpus": 0.0}
    for resource in manifest.scalar_resources:
        resources[resource.name] = resource.value + resource.input_multiplier * size
    resources["cpus"] = max(resources["cpus"], MIN_CPUS)
    resources["mem"] = max(resources["mem"], MIN_MEM_MIB)
    resources["disk"] = max(resources["disk"], size)
    return resources
