"""Which registered page does the evidence show? SIFT matches against candidate pages' fingerprints, verified
by a homography: every page given, or the few the page index (`leakmark.index`) proposes for the evidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from leakmark import fingerprint
from leakmark.trace import agreement
from leakmark.trace.nearest import Nearest, merged, ratio_matches, two_nearest

RATIO = 0.8  # Lowe's ratio test
MIN_INLIERS = 25  # fewer consistent matches than this is not a located page
EVIDENCE_SIDE = 2400  # evidence is searched at most this long
STRONG = 100  # inliers: a page located beyond doubt
QUICK_SIDE, QUICK_FEATURES = 1200, 4000  # the index's first question (see locate)
NEAR = 0.5  # after a STRONG match, index candidates with this share of the first one's votes are verified still
RIVAL = 0.5  # a page of another document verified with this share of the best's inliers is scored too
SIBLING_SPATIAL = 6  # after a weak location, the document's other pages proposed with this many index votes
SPARSE = 1000  # evidence with fewer features than this (a small crop of a sparse page) may ask `refs.weak`
SMALL = 4000  # evidence with fewer features than this (a crop) that located no page beyond doubt asks `refs.wide`
AGREES = 0.3  # a weak location of SMALL features or more stands when its print agrees this well (`agreement`)
AGREE_TILES = 12  # inked tiles of the page the evidence must cover for that test to say anything
SETTLES = 0.6  # a weak location of a whole page whose print agrees this well is the page (`settled`)
# a whole sheet's keypoints smaller than this on the page (FP_DPI pixels; the fingerprint's smallest are 1.8) are
# left out of its first verification (`_larger_keypoints`); the sheet's scale to the page is taken as an A4 page's
SMALLEST_FIRST_FP = 2.2
A4_LONG_FP = 297 / 25.4 * fingerprint.FP_DPI
# and the pages' keypoints smaller than SMALLEST_FIRST_FP / this are not searched then: a match keeps the scale
# between sheet and page (a registered photo's inliers' sizes: the page's × 1.34-1.42), and this much slack leaves
# room for a page that is not quite A4 (Letter is 6 % shorter)
PAGE_FLOOR_SLACK = 1.1


@dataclass
class PageRef:
    doc_id: str
    page: int  # 0-based
    points: np.ndarray  # fingerprint points, FP_DPI pixels
    descriptors: np.ndarray
    group: int = -1  # the page index's content group: refs sharing one show the same page (revisions)
    votes: int = 0  # the page index's spatially consistent matches (0: not proposed by the index)
    # the page's outline keypoints (points in FP_DPI pixels, descriptors: `fingerprint.outline_of_page`), made
    # when asked: verification falls back on them when no page verifies with its fingerprint (a strong blur)
    outline: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None
    image: Callable[[], np.ndarray] | None = None  # the page in grey at FP_DPI, loaded when asked (`_shows`)
    sizes: np.ndarray | None = None  # fingerprint keypoint diameters, FP_DPI pixels (None: vaults before them)


# the evidence's SIFT points, descriptors and keypoint sizes -> the pages to verify, best first
Candidates = Callable[[np.ndarray, np.ndarray, np.ndarray], list[PageRef]]

@dataclass
class Location:
    ref: PageRef
    H: np.ndarray  # evidence pixels -> fingerprint (FP_DPI) pixels
    inliers: int
    matched: np.ndarray | None = None  # the inliers' positions on the page (FP_DPI pixels): what it shows
    twins: list[PageRef] = field(default_factory=list)  # the same page in other documents, verified too
    # near-identical pages of other documents (a revision with a small edit, an annotated version): verified
    # with RIVAL of the best's inliers or more, each with its own homography; the tracer scores each
    rivals: list[Location] = field(default_factory=list)
    agrees: float | None = None  # the print's agreement `_shows` measured for a weak location of a whole page


def settled(loc: Location) -> bool:
    """Whether the location is the page beyond doubt: STRONG inliers, or a weak location of a whole page whose print
    agrees with the page's at SETTLES or more. Then neither the page's siblings nor another view of the evidence (its
    raw image after its sheet, the mirror image) is worth asking. Measured: a photo of archive page 223 (English
    prose of repeated words) located on its sheet with 85 inliers and agreed 0.84; the raw image and the siblings
    asked after it cost 3.5 s of its 6.5 s and found the same page (90 inliers, 0.84). Pages of the template agree
    0.06-0.14; the samples' weak copies blurred beyond the robustness suite 0.46-0.73 (`_shows`)."""
    return loc.inliers >= STRONG or (loc.agrees is not None and loc.agrees >= SETTLES)


FeatureSet = tuple[np.ndarray, np.ndarray, np.ndarray, float]  # as evidence_features returns them


class _Neighbours:
    """The evidence's two nearest descriptors on each page verified, kept for the round with outlines: a page's
    fingerprint and outline keypoints together have as nearest the nearer of each part's, so that round searches
    the outline's only (measured: an unregistered page's photo spent half its verification on repeating the
    fingerprints' search)."""

    def __init__(self, desc: np.ndarray, page_floor: float = 0.0) -> None:
        self.desc = np.ascontiguousarray(desc, dtype=np.float32)
        self.page_floor = page_floor  # a page's keypoints smaller than this (FP_DPI pixels) are not searched
        self._pages: dict[tuple[str, int], Nearest] = {}

    def __call__(self, ref: PageRef, outline: np.ndarray | None = None) -> Nearest:
        key = (ref.doc_id, ref.page)
        near = self._pages.get(key)
        if near is None:
            near = self._pages[key] = self._nearest(ref)
        if outline is None or len(outline) == 0:
            return near
        return merged(near, two_nearest(self.desc, outline), len(ref.descriptors))

    def _nearest(self, ref: PageRef) -> Nearest:
        """The two nearest among the page's keypoints of `page_floor` or larger, numbered as in the whole
        fingerprint (its points are what `_matched` maps them to)."""
        if not self.page_floor or ref.sizes is None or len(ref.sizes) != len(ref.descriptors):
            return two_nearest(self.desc, ref.descriptors)
        kept = np.flatnonzero(ref.sizes >= self.page_floor)
        idx, dist = two_nearest(self.desc, ref.descriptors[kept])
        return kept[idx] if len(kept) else idx, dist

# A SIFT descriptor is 4 × 4 cells (rows along the keypoint's orientation's normal) of 8 orientation bins. In the
# image flipped left to right a keypoint's orientation θ becomes 180° - θ: relative to it, each gradient's
# orientation is negated (bin o -> -o) and the cells' rows come in reverse order; the columns stay.
_MIRRORED = np.arange(128).reshape(4, 4, 8)[::-1][:, :, (8 - np.arange(8)) % 8].ravel()


def evidence_features(gray: np.ndarray, side: int = EVIDENCE_SIDE, max_features: int = 12000) -> FeatureSet:
    """SIFT points (evidence pixels), descriptors and keypoint sizes (searched pixels), and the search scale."""
    scale = min(1.0, side / max(gray.shape))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    pts, desc, sizes = fingerprint.detect_sized(small, max_features=max_features)
    return pts / scale, desc, sizes, scale


def mirrored(features: FeatureSet, width: int) -> FeatureSet:
    """The features of the image (`width` pixels wide) flipped left to right, from its own: SIFT detects the
    mirror image's keypoints where it detects the image's, with the descriptors permuted (`_MIRRORED`; measured
    on a page and its mirror image: median cosine 0.99 between the permuted and the extracted descriptors)."""
    pts, desc, sizes, scale = features
    small = round(width * scale) if scale < 1 else width  # the searched image's width (cv2.resize rounds)
    out = pts.copy()
    out[:, 0] = ((small - 0.5) - pts[:, 0] * scale) / scale  # OpenCV's SIFT places x at W - 0.5 - x (measured)
    return out, np.ascontiguousarray(desc[:, _MIRRORED]), sizes, scale


class Features:
    """An image's SIFT features at each size asked for, extracted once; a larger extraction also answers a
    smaller one's question (its largest keypoints are those a smaller image keeps, and the index asks with the
    largest). `mirror()`: the same for the image flipped left to right, made from these with no extraction of
    its own (a mirror image is tried after the image itself)."""

    def __init__(self, extract: Callable[[int, int], FeatureSet], image: np.ndarray, flipped: bool,
                 refused: set[tuple[str, int]] | None = None, whole_sheet: bool = False) -> None:
        self._extract = extract
        self.image, self.flipped = image, flipped  # the features are the image's, or its mirror image's
        self.whole_sheet = whole_sheet  # a whole sheet of paper unwarped: the page fills it (`_larger_keypoints`)
        self.width = image.shape[1]
        self._made: dict[tuple[int, int], FeatureSet] = {}
        # (doc_id, page) of weak locations `_shows` refused, shared by the views of one orientation of the evidence
        # (its sheet and raw image): the other view's quick question does not verify them again (an unregistered
        # page's sheet and raw image propose the same pages, and the raw image's verification cost a full
        # extraction of it). Not shared with the mirror images: a mirror image of a page can match the page as it
        # is, weakly, on what is symmetric (a rule, a seal, a centred title), and be refused there (measured: the
        # notice's mirror image was lost so at 031b983). Pages that merely failed to verify are verified again:
        # a "sheet" that is a frame on the page (a photo's) fails where the whole image verifies
        self.refused = set() if refused is None else refused

    @classmethod
    def of_image(cls, gray: np.ndarray, refused: set[tuple[str, int]] | None = None, whole_sheet: bool = False
                 ) -> Features:
        return cls(lambda side, n: evidence_features(gray, side, n), gray, False, refused, whole_sheet)

    def mirror(self, refused: set[tuple[str, int]] | None = None) -> Features:
        """The mirror image's features; `refused`: the set its other views share (see __init__)."""
        return Features(lambda side, n: mirrored(self(side, n), self.width), self.image, not self.flipped, refused,
                        self.whole_sheet)

    def __call__(self, side: int = EVIDENCE_SIDE, max_features: int = 12000) -> FeatureSet:
        for (s, n), made in self._made.items():
            if s >= side and n >= max_features:
                return made
        made = self._made[(side, max_features)] = self._extract(side, max_features)
        return made


def locate(gray: np.ndarray | Features, refs: list[PageRef] | Candidates, quick: bool = False,
           confirm: bool = False) -> Location | None:
    """The best verified page among `refs` (or among those `refs(descriptors)` proposes; with `quick`, asked first
    with a smaller image's features, and nothing more done when it proposes nothing). Candidates come best
    first: once one is located with STRONG inliers, only those of its own content group (the same page in
    other documents) are still verified; the rest are not worth a match each. Refs without a group (a plain
    list) are all verified. `gray` is the image, or its Features (extracted once across attempts). With
    `confirm` (a quick question), the pages proposed are verified with the small image's features first, and
    nothing more is done when none verifies (the full extraction is made for a page the image shows only).

    A weak location (fewer than STRONG inliers) of evidence with SMALL features or more, a whole page, is
    kept only when the evidence's print agrees with the page's (`_shows`): a photo of an unregistered page
    locates a page of its template that way, and measuring it cost seconds to answer no-match."""
    features = gray if isinstance(gray, Features) else Features.of_image(gray)
    return _located(features, refs, quick, confirm)


def _checked(features: Features, loc: Location | None) -> Location | None:
    """The location, or None when it is weak, the evidence a whole page (SMALL features or more) and its print
    does not agree with the page's (`_shows`); a refused page is remembered for the evidence's other views."""
    if loc is None or loc.inliers >= STRONG or len(features()[1]) < SMALL or _shows(features, loc):
        return loc
    features.refused.add((loc.ref.doc_id, loc.ref.page))
    return None


def _shows(features: Features, loc: Location) -> bool:
    """Whether the evidence's print agrees with the page it located at the scale of strokes (`agreement`). True
    when the page's image is not at hand or the evidence covers too little print to tell. Measured (240
    archive pages, docs/archive-scale.md): 20 weak locations of photos of unregistered pages on pages of their
    template 0.06-0.14; the samples' copies blurred beyond the robustness suite (Gaussian 3.5-5, defocus 6-7 px)
    0.37-0.74, the weak ones among them (32-88 inliers) 0.46-0.73; phone photos with lens k1 0.15-0.2 0.71-0.86.
    The agreement measured is kept on the location (`agrees`: `settled` reads it)."""
    if loc.ref.image is None:
        return True
    image = cv2.flip(features.image, 1) if features.flipped else features.image
    score, tiles = agreement.agreement(image, loc.H, loc.ref.image())
    if tiles < AGREE_TILES:
        return True
    loc.agrees = score
    return score >= AGREES


def _located(features: Features, refs: list[PageRef] | Candidates, quick: bool, confirm: bool = False
             ) -> Location | None:
    proposed: list[PageRef] | None = None
    quick_desc: np.ndarray | None = None  # the descriptors the quick question asked with
    if callable(refs) and quick:
        # a quick question does not ask the outlines' index (`refs.quick`, where refs has it): a blurred page is
        # found by the full question of the image as it is, and an unregistered page's quick questions (a
        # mirror image, the raw image after its sheet) then cost a fine query each, no more
        ask: Candidates = getattr(refs, "quick", refs)
        # the index asked first with a smaller image's features (its entries are a page's largest keypoints,
        # which a smaller image keeps): when nothing is there (an unregistered page, the mirrored image after
        # the image as it is) that costs a small extraction, not a full one; when pages are proposed, they are
        # verified with the full features, and the index is asked again with those only if none verifies
        qpts, qdesc, qsizes, _ = features(QUICK_SIDE, QUICK_FEATURES)
        quick_desc = qdesc
        # a page refused for another view of this evidence is not verified again: a photo of an unregistered
        # page proposes its template's page for the raw image as it did for the sheet, and that verification
        # took a second full extraction
        proposed = [r for r in ask(qpts, qdesc, qsizes) if (r.doc_id, r.page) not in features.refused]
        if not proposed:
            return None
        if confirm and _verified(qpts, _Neighbours(qdesc), proposed) is None:
            # the raw image after its whole sheet showed nothing (`confirm`): its pages are verified with the
            # quick features before the full extraction is made for them. An unregistered page's sheet proposed
            # nothing while its raw image's quick question proposed a page that then failed (measured: 2 of 20
            # photos, 1.5 s each for the raw image's full extraction); a page the raw image shows (the "sheet"
            # a box drawn on it) verifies with the quick features
            return None
    pts, desc, sizes, scale = features()
    if len(desc) < MIN_INLIERS:
        return None
    full: _Matching = (pts, _Neighbours(desc))
    if not callable(refs):
        return _checked(features, _verified(*full, refs))
    query: _Query = (pts, desc, sizes)
    # what the pages are verified with until one stands: all the features, or a whole sheet's larger ones
    check = _larger_keypoints(features, query, scale) or full
    tried = list(proposed) if proposed is not None else refs(*query)
    best = _verified(*check, tried)
    if best is None and proposed is not None and not _same(desc, quick_desc):
        # asked again with the full features, unless those are what the quick question asked with (a mirror image's
        # are both the image's largest extraction mirrored: the same question proposes the same pages, ~0.13 s)
        best = _verified_more(query, check, ask, tried)
    if best is None:
        # no page verified with its fingerprint: with its outline's keypoints added, once none did (a page of the
        # same template as the one shown, a form, may match on its outline too, and a page that verifies with
        # its fingerprint is the better evidence). A strong blur erases the small keypoints a fingerprint holds
        # of a page of dense text and leaves its lines and blocks (measured: the Chinese notice's page 2 under a
        # 15 px motion blur verified with no fingerprint, with 417-474 inliers with its outline's keypoints)
        best = _verified(*check, tried, outlines=True)
    wide = getattr(refs, "wide", None)
    if (best is None or best.inliers < STRONG) and not quick and wide is not None and len(desc) < SMALL:
        # a crop (a fifth of a page, a band) of a page among many in its font and vocabulary: the words it shows
        # meet other pages' stored keypoints about as often as its own page's, whose largest keypoints lie mostly
        # elsewhere (measured among 2,125 registered pages: the memo's page 1 as a 20 % band was the first pass's
        # 66th, and a 20 % corner its 66th-124th, so neither reached the 64 handed on, while a page of the archive
        # verified the corner with 30 inliers against 197 for its page); the first pass hands on more pages.
        # A 12 MP photo has more features than this (up to 12,000), so its no-match does not pay for this question;
        # a low-resolution photo or screenshot of an unregistered page may (one more first pass and its checks)
        more = _verified_more(query, check, wide, tried)
        if more is not None and (best is None or more.inliers > best.inliers):
            best = more
    weak = getattr(refs, "weak", None)
    if best is None and not quick and weak is not None and len(desc) < SPARSE:
        # a small crop of a sparse page: few of its features are among the page's largest that the index keeps,
        # too few for a proposal, while its fingerprint matches it well (measured: the memo's page 2 as a 20 %
        # centre crop, 394 features, 5 of them consistent in the index and 72 inliers with the fingerprint);
        # the pages with fewer consistent matches are verified too, which costs little with so few features
        best = _verified_more(query, check, weak, tried)
    # checked before the document's other pages are asked: a photo of an unregistered page located on a page of
    # its template (refused here) spent a second or more verifying that document's other pages, which share the
    # template. Evidence the check applies to is a whole page, which the index's proposals hold; the siblings
    # serve crops (a block repeated on several pages), which it leaves alone
    best = _checked(features, best)
    within = getattr(refs, "within", None)
    if best is not None and not settled(best) and within is not None:
        other = _siblings(query, check, within, best, {(r.doc_id, r.page) for r in tried})
        if other is not best:  # a sibling's weak location is checked too; the page that passed stands otherwise
            best = _checked(features, other) or best
    if best is not None and check is not full:
        best = _refined(full, best)
    return best


def _same(a: np.ndarray, b: np.ndarray | None) -> bool:
    return b is not None and (a is b or (a.shape == b.shape and bool(np.array_equal(a, b))))


# what the index is asked with (points, descriptors, sizes), and what verification matches (points and their
# descriptors' neighbours on the pages verified)
_Query = tuple[np.ndarray, np.ndarray, np.ndarray]
_Matching = tuple[np.ndarray, _Neighbours]


def _larger_keypoints(features: Features, query: _Query, scale: float) -> _Matching | None:
    """The features a whole sheet of paper is first verified with: those that are not smaller on the page than
    SMALLEST_FIRST_FP (None when that does not apply: not a whole sheet, fewer than SMALL features, or nothing left
    out). A photo's sheet is searched larger than the fingerprint (an A4 page at 2,400 px is 1.37 of it), and its
    smallest keypoints, a glyph's detail, hardly ever meet a fingerprint's keypoint; a photo of an unregistered page
    meets its template's pages with the larger ones, its lines and frames (measured on 2,000 real pages: keypoints
    under 3 px were 18-51 % of five such sheets' features and none of their 30-55 inliers; 16 % of a registered
    page photo's 739). The pages' keypoints that such keypoints cannot meet at the sheet's scale, those smaller
    than SMALLEST_FIRST_FP / PAGE_FLOOR_SLACK on the page (a quarter of a fingerprint's), are left out of that
    search too (measured on 20 unregistered pages' photos: the nearest-neighbour search 0.5 -> 0.3 s a photo; 30
    registered pages' photos: their first verification's inliers -1.9 % to +5.4 %, the page the same).
    Verifying each page the index proposes costs in proportion to the features matched, and
    for an unregistered page of a registered template every proposal is verified before the print check refuses
    the best; the page that stands is verified again with all the features (`_refined`). Not for an image
    without a sheet (a screenshot's glyphs are all small keypoints) nor a part of a page (its scale is unknown)."""
    pts, desc, sizes = query
    if not features.whole_sheet or len(desc) < SMALL:
        return None
    per_fp_pixel = max(features.image.shape[:2]) * scale / A4_LONG_FP  # searched pixels per fingerprint pixel
    keep = sizes >= SMALLEST_FIRST_FP * per_fp_pixel
    if int(keep.sum()) < MIN_INLIERS or bool(keep.all()):
        return None
    return pts[keep], _Neighbours(desc[keep], SMALLEST_FIRST_FP / PAGE_FLOOR_SLACK)


def _refined(full: _Matching, best: Location) -> Location:
    """A location found with the larger keypoints verified again with all the evidence's features: its page, twins
    and rivals, with their fingerprints, or with their outlines added when none verifies so (as `_located` asks).
    It stands as found if none verifies (none should: all the features hold the larger ones)."""
    pages = [best.ref, *best.twins, *(r.ref for r in best.rivals)]
    again = _verified(*full, pages) or _verified(*full, pages, outlines=True)
    if again is None:
        return best
    if again.ref is best.ref:  # the print's agreement was measured on that page
        again.agrees = best.agrees
    return again


def _verified_more(query: _Query, check: _Matching, ask: Candidates, tried: list[PageRef]) -> Location | None:
    """Ask again (another question than the one `tried` came from) and verify the pages proposed that were not
    tried yet; `tried` gets them."""
    seen = {(r.doc_id, r.page) for r in tried}
    more = [r for r in ask(*query) if (r.doc_id, r.page) not in seen]
    tried += more
    return _verified(*check, more)


def _siblings(query: _Query, check: _Matching, within: Callable[..., list[PageRef]], best: Location,
              tried: set[tuple[str, int]]) -> Location:
    """A weak location checked against the other pages of its document: the page index proposes those whose
    descriptors the evidence's meet, competing with that document's pages only (SIBLING_SPATIAL votes), and
    the best verified wins. A block that repeats on several pages (a signature and seal, a letterhead) can
    propose the wrong page of the document: measured on a centre crop of page 3 of the Chinese notice among
    10,000 index pages, the index proposed page 1 only (49 votes, its signature block), while page 3 matched
    with 240 inliers and had 9 votes among the notice's own pages."""
    more = [r for r in within(best.ref.doc_id, *query) if (r.doc_id, r.page) not in tried]
    other = _verified(*check, more) if more else None
    return other if other is not None and other.inliers > best.inliers else best


def _verified(pts: np.ndarray, near: _Neighbours, refs: list[PageRef], outlines: bool = False
              ) -> Location | None:
    """The best of these pages that the evidence's features (all of them) match through one homography. With
    `outlines`, those pages that have an outline are matched with its keypoints added to their fingerprint's
    (`locate` asks so only when no page verified with its fingerprint). `near`: the evidence's descriptors and
    their neighbours on the pages verified before."""
    top_votes = max((r.votes for r in refs), default=0)
    best: Location | None = None
    found: list[Location] = []
    for ref in refs:
        if (best is not None and best.inliers >= STRONG and best.ref.group >= 0 and ref.group != best.ref.group
                and ref.votes < NEAR * top_votes):
            continue
        points, o_desc = ref.points, None
        if outlines:
            if ref.outline is None:
                continue
            o_pts, o_desc = ref.outline()
            points = np.concatenate([points, o_pts])
        loc = _matched(pts, near(ref, o_desc), ref, points)
        if loc is not None:
            found.append(loc)
            if best is None or loc.inliers > best.inliers:
                best = loc
    if best is not None and best.ref.group >= 0:
        best.twins = [f.ref for f in found if f.ref.group == best.ref.group and f.ref.doc_id != best.ref.doc_id]
        seen = {best.ref.doc_id, *(r.doc_id for r in best.twins)}
        for f in sorted(found, key=lambda f: -f.inliers):
            if f.ref.group >= 0 and f.ref.group != best.ref.group and f.ref.doc_id not in seen \
                    and f.inliers >= RIVAL * best.inliers:
                seen.add(f.ref.doc_id)
                best.rivals.append(f)
    return best


def _matched(pts: np.ndarray, near: Nearest, ref: PageRef, points: np.ndarray) -> Location | None:
    """The evidence (points, and its descriptors' two nearest among the page's) verified against a page's
    keypoints (`points`): a location when MIN_INLIERS matches or more fit one homography that keeps the page's
    orientation."""
    query, train = ratio_matches(near, RATIO)
    if len(query) < MIN_INLIERS:
        return None
    src = pts[query]
    dst = points[train]
    H, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, 3.0, maxIters=5000, confidence=0.999)
    if H is None or not _keeps_orientation(H, src[mask.ravel() > 0]):
        return None  # a mirror image matched as is: the mirrored attempt (tracer._locate) finds it
    n = int(mask.sum())
    return Location(ref=ref, H=H, inliers=n, matched=dst[mask.ravel() > 0]) if n >= MIN_INLIERS else None


def _keeps_orientation(H: np.ndarray, points: np.ndarray) -> bool:
    """A photo, scan or screenshot maps the page without turning it over: the Jacobian of H, whose
    determinant is det(H) / w³, must be positive where the matches are (w taken at their centre)."""
    if len(points) == 0:
        return False
    if not np.all(np.isfinite(H)) or np.linalg.cond(H) > 1e10:
        return False  # degenerate: a page cannot be photographed into a line
    x, y = points.reshape(-1, 2).mean(axis=0)
    w = H[2, 0] * x + H[2, 1] * y + H[2, 2]
    return float(np.linalg.det(H)) * float(w) > 0
