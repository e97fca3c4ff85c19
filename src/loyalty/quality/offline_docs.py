"""Make Great Expectations' Data Docs work offline: local copies instead of CDN links.

GX 1.x writes pages that load Bootstrap, jQuery, bootstrap-table, Font Awesome, vega and
its logo from CDNs; on a machine without internet the index page stays blank and every
page is unstyled. The same files, at the same versions (popper.js: the 1.x that Bootstrap
4.3.1 asks for), are npm packages declared in gx/assets/package.json and installed by
`make setup` (npm ci, locked by gx/assets/package-lock.json). After each Data Docs build
`make_offline` copies the files the pages use into `local_site/static/vendor/` and rewrites
every page's links to them, relative to the page, so the site also works when the folder
is moved or opened from a file share. Nothing is downloaded at run time.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from loyalty.errors import LoyaltyError
from loyalty.project import project_dir

ASSETS = Path("gx") / "assets"
VENDOR = Path("static") / "vendor"

# CDN address in GX's templates -> (npm package, file in the package)
CDN_FILES: dict[str, tuple[str, str]] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap",
        "dist/css/bootstrap.min.css",
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": ("bootstrap", "dist/js/bootstrap.min.js"),
    "https://code.jquery.com/jquery-3.7.1.min.js": ("jquery", "dist/jquery.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "popper.js",
        "dist/umd/popper.min.js",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "@fortawesome/fontawesome-free",
        "css/all.min.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table",
        "dist/bootstrap-table.min.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table",
        "dist/bootstrap-table.min.js",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "bootstrap-table",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "bootstrap-table",
        "dist/extensions/filter-control/bootstrap-table-filter-control.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "bootstrap-table",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker",
        "dist/css/bootstrap-datepicker.min.css",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker",
        "dist/js/bootstrap-datepicker.min.js",
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "@forevolve/bootstrap-dark",
        "dist/css/bootstrap-prefers-dark.css",
    ),
    "https://cdn.jsdelivr.net/npm/vega@5": ("vega", "build/vega.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-lite@5": ("vega-lite", "build/vega-lite.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-embed@6": ("vega-embed", "build/vega-embed.min.js"),
}
# folders a copied file refers to by relative path (Font Awesome's css -> ../webfonts/)
CDN_FOLDERS: list[tuple[str, str]] = [("@fortawesome/fontawesome-free", "webfonts")]
# the logos GX's pages load from its web site (some with a tracking query string) -> the same
# logo shipped in GX's own static images, which every Data Docs site has
REMOTE_LOGO = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png"
REMOTE_IMAGE = re.compile(
    r"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/[A-Za-z0-9_.-]+"
    r"(\?[^\"'\s<>)]*)?"
)
LOCAL_LOGO = Path("static") / "images" / "logo-long.png"
# GX 1.24 links the favicon one folder too high on validation result pages (a 404 on every
# page view): pointed at the site's own favicon, relative to each page
FAVICON = Path("static") / "images" / "favicon.ico"
FAVICON_LINK = re.compile(r"(?<=[\"'])(?:\.{1,2}/)*static/images/favicon\.ico(?=[\"'])")


class DataDocsAssetsError(LoyaltyError):
    """The npm packages that the offline Data Docs need are not installed."""


def assets_dir() -> Path:
    return project_dir() / ASSETS / "node_modules"


def _copy_assets(site: Path) -> None:
    modules = assets_dir()
    wanted = [(package, file) for package, file in CDN_FILES.values()]
    for package, folder in CDN_FOLDERS:
        wanted += [
            (package, str(p.relative_to(modules / package)))
            for p in sorted((modules / package / folder).glob("*"))
            if p.is_file()
        ]
    missing = [f"{package}/{file}" for package, file in wanted if not (modules / package / file).is_file()]
    if missing:
        raise DataDocsAssetsError(
            f"The Data Docs styles and scripts are not installed ({missing[0]} is missing in {modules}): "
            "run `make setup` (it installs them with npm from gx/assets/package-lock.json)."
        )
    for package, file in wanted:
        src, dst = modules / package / file, site / VENDOR / package / file
        if dst.is_file() and dst.stat().st_size == src.stat().st_size:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)


def _relative(page: Path, site: Path, target: Path) -> str:
    return Path(os.path.relpath(site / target, page.parent)).as_posix()


TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
# a CDN's subresource-integrity hash and CORS mode: a file:// page cannot load a script in CORS
# mode, and popper.js is not the CDN's version, so the local copy drops both attributes
SRI_ATTRIBUTES = re.compile(r"\s+(?:integrity|crossorigin)=(?:\"[^\"]*\"|'[^']*'|[^\s>]+)", re.IGNORECASE)


def rewrite_page(page: Path, site: Path) -> bool:
    """Point the page's CDN links at the local copies; return whether it changed."""
    text = page.read_text(encoding="utf-8")
    # longest first: no address is a prefix of another that would be rewritten half
    urls = sorted(CDN_FILES, key=len, reverse=True)

    def local_tag(match: re.Match[str]) -> str:
        tag = match.group(0)
        hits = [url for url in urls if url in tag]
        if not hits:
            return tag
        package, file = CDN_FILES[hits[0]]
        tag = tag.replace(hits[0], _relative(page, site, VENDOR / package / file))
        return SRI_ATTRIBUTES.sub("", tag)

    new = TAG.sub(local_tag, text)
    new = REMOTE_IMAGE.sub(_relative(page, site, LOCAL_LOGO), new)
    new = FAVICON_LINK.sub(_relative(page, site, FAVICON), new)
    if new != text:
        page.write_text(new, encoding="utf-8")
    return new != text


def remote_links(page: Path) -> list[str]:
    """The CDN addresses still in a page (empty once rewritten); for checks."""
    text = page.read_text(encoding="utf-8")
    return [url for url in CDN_FILES if url in text] + [m.group(0) for m in REMOTE_IMAGE.finditer(text)]


def make_offline(site: Path) -> int:
    """Copy the assets into the site and rewrite every page; return the number of pages rewritten."""
    if not site.is_dir():
        return 0
    _copy_assets(site)
    return sum(
        rewrite_page(page, site)
        for page in sorted(site.rglob("*.html"))
        if VENDOR not in page.relative_to(site).parents
    )
