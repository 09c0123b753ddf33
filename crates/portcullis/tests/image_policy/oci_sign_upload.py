"""Runs the official `oci` CLI's own `artifacts container image-signature sign-upload`
against a Portcullis server, in process, so its message builder, its KMS Sign call and its
upload are the CLI's code.

One thing is redirected: for this command the CLI sets each client's endpoint from the
region's public domain (`artifacts.<region>.oci.<domain>`) and, for the vault, from the key
OCID (`<vault-ext>-crypto.kms.<region>...`), which a self-hosted server cannot answer for.
Its functions still run (so its parse of the key OCID must accept ours); only the endpoint
handed to each client it builds is put back to the server's `--endpoint`, where Portcullis
serves both APIs.
"""

import sys

from oci_cli import cli_util
from oci_cli.cli import cli

server = sys.argv[sys.argv.index("--endpoint") + 1]
build_client = cli_util.build_client


def build_client_at_the_server(service_name, client_name, ctx):
    ctx.obj["endpoint"] = server
    return build_client(service_name, client_name, ctx)


cli_util.build_client = build_client_at_the_server
sys.exit(cli(prog_name="oci"))
