"""Find the hook configuration for one invocation (see `config.py` for the order)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..errors import InvalidConfiguration
from ..store import hooks as hook_store
from .config import DEFAULTS, HookConfig, parse_config


def load_codedeploy_config(
    clients: Any, table: str, prefix: str, deployment_id: str, application: str, group: str
) -> HookConfig:
    """Per deployment (DynamoDB), else per application + group (SSM), else defaults."""
    raw = hook_store.get_config(clients.dynamodb, table, deployment_id)
    if raw is not None:
        source = hook_store.config_source(deployment_id)
        if not raw:
            raise InvalidConfiguration(source, "has no string attribute 'config'")
        return parse_config(raw, source)
    return _from_parameter(clients, f"{prefix.rstrip('/')}/{application}/{group}")


def load_ecs_native_config(
    clients: Any, prefix: str, hook_details: Any, cluster: str, service: str
) -> HookConfig:
    """The lifecycle hook's `hookDetails.hookConfig`, else SSM per service, else defaults."""
    if isinstance(hook_details, dict) and "hookConfig" in hook_details:
        return parse_config(hook_details["hookConfig"], "hookDetails.hookConfig")
    return _from_parameter(clients, f"{prefix.rstrip('/')}/ecs/{cluster}/{service}")


def _from_parameter(clients: Any, name: str) -> HookConfig:
    try:
        value = clients.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return DEFAULTS
        raise
    return parse_config(value, f"ssm:{name}")
