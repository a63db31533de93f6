"""Check an activity log proof bundle offline: python3 check_proof.py bundle.json [--public-key key.pem]"""
import base64, hashlib, json, re, sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils


class Refused(Exception):
    pass


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def unhex(text):  # 64 lowercase hex digits, nothing else
    if not isinstance(text, str) or not re.fullmatch("[0-9a-f]{64}", text):
        raise Refused(f"not a SHA-256 in hex: {text!r}")
    return bytes.fromhex(text)


def unbase64(text):  # strict: the one encoding of its bytes
    data = base64.b64decode(text, validate=True)
    if base64.b64encode(data).decode() != text:
        raise Refused("base64 not in its canonical form")
    return data


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_path(index, size, leaf, path):  # RFC 9162, 2.1.3.2
    if not 0 <= index < size:
        raise Refused("leaf index outside the tree")
    fn, sn, found = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            raise Refused("inclusion path too long")
        if fn & 1 or fn == sn:
            found = node(sibling, found)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            found = node(found, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Refused("inclusion path too short")
    return found


def check(raw, pinned_key=None):
    text = raw.decode("utf-8")
    bundle = json.loads(text)
    if text != canonical(bundle) + "\n":
        raise Refused("the bundle is not in its canonical form (it was edited)")
    if not isinstance(bundle, dict) or sorted(bundle) != ["checkpoint", "format", "id", "org", "public_key", "versions"]:
        raise Refused("unexpected fields")
    if bundle["format"] != 1:
        raise Refused("unknown format")
    key_bytes = unbase64(bundle["public_key"])
    if pinned_key is not None and key_bytes != pinned_key:
        raise Refused("signed with another key than the one you pinned")
    public_key = serialization.load_der_public_key(key_bytes)
    checkpoint = bundle["checkpoint"]
    unsigned = {k: v for k, v in checkpoint.items() if k != "signature"}
    try:
        public_key.verify(unbase64(checkpoint["signature"]), hashlib.sha256(canonical(unsigned).encode()).digest(),
                          ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except InvalidSignature:
        raise Refused("the checkpoint's signature does not hold") from None
    size, root = checkpoint["tree_size"], unhex(checkpoint["root"])
    if checkpoint["org"] != bundle["org"] or type(size) is not int:
        raise Refused("the checkpoint is another org's")
    last = -1
    if not bundle["versions"]:
        raise Refused("no versions")
    for version in bundle["versions"]:
        if sorted(version) != ["index", "line", "path"] or type(version["index"]) is not int or version["index"] <= last:
            raise Refused("a version is malformed or out of order")
        last = version["index"]
        line = json.loads(version["line"])
        if line.get("org") != bundle["org"] or line.get("id") != bundle["id"]:
            raise Refused("a version is another entry's")
        leaf = hashlib.sha256(b"\x00" + hashlib.sha256(version["line"].encode("utf-8")).digest()).digest()
        if root_from_path(version["index"], size, leaf, [unhex(h) for h in version["path"]]) != root:
            raise Refused(f"version {line.get('seq')} is not in the signed tree")
    fingerprint = hashlib.sha256(key_bytes).hexdigest()
    return (f"OK: {len(bundle['versions'])} versions of entry {bundle['id']} (org {bundle['org']}) are in the tree of "
            f"{size} signed at {checkpoint['time']} by the key with SHA-256 fingerprint {fingerprint}")


def main(argv):
    pinned = None
    if "--public-key" in argv:
        pem = open(argv[argv.index("--public-key") + 1], "rb").read()
        pinned = serialization.load_pem_public_key(pem).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        print(check(open(argv[1], "rb").read(), pinned))
    except Exception as error:  # anything unexpected in a bundle is a refusal
        print(f"REFUSED: {type(error).__name__}: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
