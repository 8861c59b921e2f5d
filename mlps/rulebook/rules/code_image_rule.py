"""The code a result ran (3.6.1 / 2.1.6): the image a leaf points to is in the tree and its MD5 tree
hash is what `.code-hash.json` and the pointer say."""

from __future__ import annotations

from mlps.rulebook import code_image
from mlps.rulebook.findings import Outcome
from mlps.rulebook.registry import Rule
from mlps.rulebook.rules._evidence import ref

# Digests of the sanctioned CLOSED code per edition; none has been published yet (an INFO finding says so).
SANCTIONED: dict = {}


class CodeImage(Rule):
    id = "TRAIN-CODE"
    section = "3.6.1 / 2.1.6"
    description = ("a leaf's code-image pointer (.mlps-code-image, md5-tree-v2) names an image in the tree whose "
                   "recomputed tree hash equals its .code-hash.json; CLOSED also equals the sanctioned digest "
                   "where one is published")
    editions = ("3.0",)
    benchmarks = ("training", "checkpointing")
    choice = ("a pointer to an image missing from the tree is a WARNING (published v3.0 trees point to images "
              "never uploaded); no sanctioned digest is published yet, so that comparison is skipped and an INFO "
              "finding says so once per CLOSED workload")

    def check(self, ctx):
        root = ctx.tree.root
        out = []
        checked: dict = {}
        for leaf in ctx.workload.leaves:
            pointer = code_image.read_pointer(leaf.path)
            if pointer is None:
                continue
            evidence = ref(leaf, code_image.POINTER)
            if isinstance(pointer, str):
                out.append(self.finding(pointer, evidence=evidence, fix="keep the pointer the tool wrote"))
                continue
            algorithm, digest = pointer
            image = code_image.find_image(leaf.path, root, digest)
            if image is None:
                missing = code_image.expected_place(leaf.path, root, digest)
                out.append(self.finding(f"the code image {digest} the leaf ran is not in the tree",
                                        outcome=Outcome.WARNING, expected=missing, actual="absent",
                                        evidence=evidence, missing=missing,
                                        fix="include the code-<hash8>/ image with the submission"))
                continue
            first = image not in checked
            if first:
                checked[image] = self._image(image)
            problem, recorded = checked[image]
            image_rel = image.relative_to(root).as_posix()
            if problem:
                if first:                      # one finding per image, however many leaves ran it
                    out.append(self.finding(f"{image_rel}: {problem}", evidence=image_rel,
                                            fix="recapture the code image with the benchmark tool"))
            elif recorded != digest or algorithm != code_image.ALGORITHM:
                out.append(self.finding(f"the leaf ran {algorithm}:{digest} but {image_rel} is {recorded}",
                                        expected=recorded, actual=digest, evidence=evidence,
                                        fix="point the leaf at the image it ran, or rerun with this code"))
            sanctioned = SANCTIONED.get(ctx.edition.name)
            if ctx.is_closed and sanctioned and digest != sanctioned:
                out.append(self.finding("CLOSED results ran code other than the sanctioned image",
                                        expected=sanctioned, actual=digest, evidence=evidence,
                                        fix="run the sanctioned benchmark code, or submit as OPEN"))
        if ctx.is_closed and checked and not SANCTIONED.get(ctx.edition.name):
            # said once per workload: a pass here vouches for the image's integrity, not for it being sanctioned
            image_rel = next(iter(checked)).relative_to(root).as_posix()
            out.append(self.finding(
                f"the reference checksum of the v{ctx.edition.name} code is not known to this verifier; only "
                f"the image's own {code_image.HASH_FILE} was checked", outcome=Outcome.INFO,
                expected="the sanctioned digest of the edition's code", actual="none known", evidence=image_rel,
                fix="compare the image's hash with the digest MLCommons publishes for the edition by hand"))
        return out

    @staticmethod
    def _image(image) -> tuple:
        """(problem or None, recorded hash) of one image, computed once however many leaves use it."""
        data = code_image.read_hash_file(image)
        if isinstance(data, str):
            return data, None
        if data.get("algorithm") != code_image.ALGORITHM:
            return (f"{code_image.HASH_FILE} says algorithm {data.get('algorithm')!r}; expected "
                    f"{code_image.ALGORITHM}"), None
        recomputed = code_image.tree_hash(image)
        if recomputed != data.get("hash"):
            return (f"the tree hashes to {recomputed} but {code_image.HASH_FILE} records {data.get('hash')} "
                    "(files changed after capture)"), None
        return None, recomputed
