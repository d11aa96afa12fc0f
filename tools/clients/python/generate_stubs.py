"""Generates the Python gRPC stubs for GrpcBank's protos into ./generated (git-ignored).

Run it directly (`/usr/bin/python3 generate_stubs.py`) or let scenario.py call it. It uses the
installed grpc_tools.protoc, so the stubs always suit the installed protobuf runtime (stubs made
by a newer protoc fail to import).

Debian 12's python3-grpc-tools (1.14) bundles protoc 3.5, which predates proto3 `optional`
(`optional int64 expected_version = 5;`). The protos are therefore compiled from a scratch copy
without that label: the wire format is the same, the Python field merely has no presence
(HasField), and leaving it unset still sends nothing.
"""
import os
import pathlib
import re
import shutil
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "generated"
OPTIONAL_LABEL = re.compile(r"^(\s*)optional\s+", re.MULTILINE)


def protos_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("GRPCBANK_PROTOS", HERE.parent.parent.parent / "protos")).resolve()


def generate() -> pathlib.Path:
    """Writes the stubs and returns the folder to put on sys.path."""
    import grpc_tools
    from grpc_tools import protoc

    protos = protos_dir()
    files = sorted(p.relative_to(protos) for p in protos.rglob("*.proto"))
    if not files:
        raise SystemExit(f"no .proto files under {protos}")
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"  # google/protobuf/timestamp.proto & co.
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    with tempfile.TemporaryDirectory(prefix="grpcbank-protos-") as scratch:
        for file in files:
            copy = pathlib.Path(scratch, file)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(OPTIONAL_LABEL.sub(r"\1", (protos / file).read_text()))
        args = ["grpc_tools.protoc", f"-I{scratch}", f"-I{well_known}",
                f"--python_out={OUT}", f"--grpc_python_out={OUT}", *map(str, files)]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {protos}")
    return OUT


if __name__ == "__main__":
    print(f"stubs written to {generate()}", file=sys.stderr)
