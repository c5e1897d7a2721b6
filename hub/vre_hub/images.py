"""Build the VRE images: the offline base and the user image.

The user image's build context is assembled in a temporary folder: the Dockerfile, a
requirements file generated from ``pyproject.toml`` (so the heavy pip layer is rebuilt only
when dependencies change), the project's packages, catalogues and notebooks, and the host's
CA bundle (pip inside the build goes through the host's network and its TLS trust).
An image is *stale* when the hash of that context differs from its label.
"""

import datetime as dt
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from vre_core import __version__
from vre_core.naming import USER_IMAGE_REPO, user_image_tag  # noqa: F401 (used by callers)
from vre_core.state import REPO_ROOT

OFFLINE_BASE_IMAGE = "dataterra-vre/base:bookworm"
PUBLIC_BASE_IMAGE = "debian:bookworm-slim"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CONTEXT_HASH_LABEL = "org.dataterra.vre.context-hash"
PACKAGE_DIRS = [
    "hub/vre_core",
    "hub/vre_hub",
    "catalogs/vre_catalog",
    "widgets/vre_widgets",
    "extensions/vre_jobs",
    "extensions/vre_workshop",
    "extensions/vre_gateway",  # its client helper (the server side is not used in the image)
]
_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "samples", ".ipynb_checkpoints", "*.egg-info", ".vre-catalog-index.pkl"
)


class BuildError(RuntimeError):
    """A build step failed; the message says which and why."""


def user_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The user image's pip requirements: core dependencies plus the ``user`` extra."""
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project["dependencies"]) + list(project["optional-dependencies"]["user"])
    return sorted(set(requirements), key=str.lower)


def assemble_context(dest: Path, root: Path = REPO_ROOT) -> str:
    """Write the user image's build context into ``dest``; return its content hash."""
    image_dir = root / "images" / "user"
    for name in ("Dockerfile", "start-vre.sh", "lab-overrides.json", "jupyter_server_config.py"):
        shutil.copy2(image_dir / name, dest / name)
    (dest / "requirements.txt").write_text("\n".join(user_requirements(root / "pyproject.toml")) + "\n")
    src = dest / "src"
    src.mkdir()
    shutil.copy2(root / "pyproject.toml", src / "pyproject.toml")
    shutil.copy2(root / "README.md", src / "README.md")
    for package in PACKAGE_DIRS:
        if (root / package).is_dir():
            shutil.copytree(root / package, src / package, ignore=_IGNORE)
    shutil.copytree(root / "catalogs", dest / "catalogs", ignore=_IGNORE)
    shutil.copytree(root / "notebooks", dest / "notebooks", ignore=_IGNORE)
    context_hash = _hash_tree(dest)
    # The CA bundle is the host's trust, not part of what the image is built from.
    if HOST_CA_BUNDLE.exists():
        shutil.copy2(HOST_CA_BUNDLE, dest / "build-ca.crt")
    else:
        (dest / "build-ca.crt").write_text("")
    return context_hash


def _hash_tree(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _docker(*args, check=True, capture=True, timeout=None):
    return subprocess.run(
        ["docker", *args], check=check, capture_output=capture, text=True, timeout=timeout
    )


def image_label(image: str, label: str) -> str | None:
    """A label of a local image, None if the image is absent."""
    result = _docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', image, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def image_exists(image: str) -> bool:
    return _docker("image", "inspect", image, check=False).returncode == 0


def image_size_mib(image: str) -> float:
    return int(_docker("image", "inspect", "--format", "{{.Size}}", image).stdout) / 2**20


def build_offline_base(tag: str = OFFLINE_BASE_IMAGE, log=print) -> str:
    """debootstrap a Debian rootfs and ``docker import`` it (no registry needed)."""
    script = REPO_ROOT / "images" / "base" / "build-offline-base.sh"
    if not shutil.which("debootstrap"):
        from .engine import ensure_debian_package

        ensure_debian_package("debootstrap", log=log)
    log(f"building offline base {tag} with debootstrap (about a minute)")
    started = time.monotonic()
    result = subprocess.run(["bash", str(script), tag], capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"offline base build failed: {result.stderr.strip().splitlines()[-1:]}")
    log(f"offline base {tag} built in {time.monotonic() - started:.0f} s, {image_size_mib(tag):.0f} MiB")
    return tag


def resolve_base(base: str, log=print) -> str:
    """``offline`` -> the debootstrap base; ``public`` -> a registry image; ``auto`` -> the
    offline base if present, else the public image if a registry answers, else build offline."""
    if base == "offline":
        return OFFLINE_BASE_IMAGE if image_exists(OFFLINE_BASE_IMAGE) else build_offline_base(log=log)
    if base == "public":
        base = PUBLIC_BASE_IMAGE
    if base != "auto":
        if not image_exists(base):
            log(f"pulling base {base}")
            if _docker("pull", base, check=False).returncode != 0:
                raise BuildError(f"cannot pull {base}; no registry reachable? use --base offline")
        return base
    if image_exists(OFFLINE_BASE_IMAGE):
        return OFFLINE_BASE_IMAGE
    if image_exists(PUBLIC_BASE_IMAGE):
        return PUBLIC_BASE_IMAGE
    log(f"trying registry base {PUBLIC_BASE_IMAGE} (30 s at most)")
    try:
        if _docker("pull", PUBLIC_BASE_IMAGE, check=False, timeout=30).returncode == 0:
            return PUBLIC_BASE_IMAGE
    except subprocess.TimeoutExpired:
        pass
    log("no registry answers: using the offline base")
    return build_offline_base(log=log)


def build_user_image(tag: str | None = None, base: str = "auto", force: bool = False, log=print) -> str:
    """Build the user image if it is missing or stale; return its tag."""
    tag = tag or user_image_tag()
    with tempfile.TemporaryDirectory(prefix="vre-user-image-") as tmp:
        context = Path(tmp)
        context_hash = assemble_context(context)
        current = image_label(tag, CONTEXT_HASH_LABEL)
        if current == context_hash and not force:
            log(f"user image {tag} is up to date (context {context_hash})")
            return tag
        reason = "missing" if current is None else f"stale ({current} != {context_hash})"
        base_image = resolve_base(base, log=log)
        log(f"building user image {tag} from {base_image}: {reason}")
        started = time.monotonic()
        build_log = context / "build.log"
        with open(build_log, "w") as out:
            result = subprocess.run(
                [
                    "docker", "build", "--network", "host", "-t", tag,
                    "--build-arg", f"BASE_IMAGE={base_image}",
                    "--build-arg", f"VRE_VERSION={__version__}",
                    "--build-arg", f"VRE_BUILD_TIME={dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
                    "--build-arg", f"VRE_CONTEXT_HASH={context_hash}",
                    str(context),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if result.returncode != 0:
            tail = build_log.read_text().strip().splitlines()[-25:]
            sys.stderr.write("\n".join(tail) + "\n")
            raise BuildError(f"docker build of {tag} failed (last lines above)")
        log(f"user image {tag} built in {time.monotonic() - started:.0f} s, {image_size_mib(tag):.0f} MiB")
        return tag
