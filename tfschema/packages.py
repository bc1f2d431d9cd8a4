"""Which npm package carries which provider's schema, and fetching it into the cache."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "provider-schema"
FETCH_HINT = "make provider-schema (or: .venv/bin/python -m tfschema --fetch; needs npm and the npm registry)"


@dataclass(frozen=True)
class Package:
    source: str  # the provider's source address, as in required_providers
    npm: str
    version: str  # exact: the schema checked against must not change under the tests

    @property
    def directory(self) -> Path:
        return CACHE / f"{self.npm.replace('@', '').replace('/', '+')}@{self.version}"

    @property
    def manifest(self) -> Path:
        return self.directory / ".jsii"


# 16.12.1 is built from hashicorp/google and google-beta 6.50.0, inside versions.tf's ">= 5.26, < 7".
# Providers with no entry here (archive, random, ...) are reported as skipped; their @cdktf packages exist and
# would be one line each.
PACKAGES = (
    Package("hashicorp/google", "@cdktf/provider-google", "16.12.1"),
    Package("hashicorp/google-beta", "@cdktf/provider-google-beta", "16.12.1"),
)


def package_for(source: str) -> Package | None:
    normal = source.lower().removeprefix("registry.terraform.io/")
    return next((p for p in PACKAGES if p.source == normal), None)


class FetchError(RuntimeError):
    pass


def fetch(package: Package) -> bool:
    """Bring the package's manifest into the cache unless it is there; True when it was fetched now.

    `npm pack` downloads the tarball only (no install, no scripts, no peer dependencies) and checks its
    integrity; only .jsii and package.json are kept: the compiled JavaScript (about 200 MB) is never used.
    """
    if package.manifest.is_file():
        return False
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError(f"npm is not installed; it is needed once to fetch {package.npm}@{package.version}")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        result = subprocess.run(
            [npm, "pack", "--silent", "--pack-destination", tmp, f"{package.npm}@{package.version}"],
            capture_output=True,
            text=True,
            check=False,
        )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or len(tarballs) != 1:
            raise FetchError(f"npm pack {package.npm}@{package.version} failed:\n{result.stderr.strip()}")
        staging = Path(tmp) / "package"
        staging.mkdir()
        with tarfile.open(tarballs[0], "r:gz") as tar:
            for name in (".jsii", "package.json"):
                member = tar.extractfile(f"package/{name}")
                if member is None:
                    raise FetchError(f"{package.npm}@{package.version} has no {name}")
                with member, (staging / name).open("wb") as out:
                    shutil.copyfileobj(member, out)
        if package.directory.exists():
            shutil.rmtree(package.directory)
        staging.rename(package.directory)
    return True
