"""The national exchange's SDK, served by an agent: agencies connect by changing only their endpoint URL.

`create_vdxp_app(service, registry)` builds the ASGI app that `agents.api` mounts at `/vdxp`;
`SdkClientRegistry(path)` holds the registered document systems (`sdk-clients.json`); the click group
`agents.vdxp.cli.sdk_client` manages them (`axis agent sdk-client add|list|remove`).
"""

from ._answers import VdxpFailure
from ._app import create_vdxp_app
from ._registry import RegistryError, SdkClient, SdkClientRegistry, generate_secret, registry_path
from ._service import DirectoryAdmin, VdxpService

__all__ = [
    "DirectoryAdmin",
    "RegistryError",
    "SdkClient",
    "SdkClientRegistry",
    "VdxpFailure",
    "VdxpService",
    "create_vdxp_app",
    "generate_secret",
    "registry_path",
]
