"""Per-account configuration from ``Settings``: an Official Account and a WeCom application.

Secrets stay in ``SecretStr`` until the moment they are used, so a repr or a log line of the config never
shows them.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, field
from typing import Literal

from pydantic import SecretStr

from assistant.channels import ChannelNotConfigured
from assistant.settings import Settings

log = logging.getLogger(__name__)

ChannelKind = Literal["wechat", "wecom"]
CHANNELS: tuple[ChannelKind, ...] = ("wechat", "wecom")


@dataclass(frozen=True)
class AccountConfig:
    kind: ChannelKind
    token: SecretStr = field(repr=False)
    aes_key: SecretStr = field(repr=False)
    app_id: str  # AppID of the Official Account, CorpID for WeCom (the "receive id" of the AES payload)
    secret: SecretStr = field(repr=False)
    agent_id: int | None
    api_base: str

    @property
    def can_send(self) -> bool:
        """Whether late answers can go out through the customer-service API."""
        if not (self.app_id and self.secret.get_secret_value()):
            return False
        return self.kind == "wechat" or self.agent_id is not None

    @property
    def has_aes(self) -> bool:
        return bool(self.aes_key.get_secret_value())


def _check_aes_key(kind: str, key: SecretStr) -> None:
    value = key.get_secret_value()
    if not value:
        return
    try:
        raw = base64.b64decode(value + "=", validate=True)
    except (binascii.Error, ValueError) as e:
        raise ChannelNotConfigured(f"{kind}: the EncodingAESKey is not base64") from e
    if len(value) != 43 or len(raw) != 32:
        raise ChannelNotConfigured(f"{kind}: the EncodingAESKey must be 43 characters")


def wechat_account(settings: Settings) -> AccountConfig:
    if not settings.wechat_token.get_secret_value():
        raise ChannelNotConfigured("wechat: SHEQU_WECHAT_TOKEN is not set")
    _check_aes_key("wechat", settings.wechat_aes_key)
    if settings.wechat_aes_key.get_secret_value() and not settings.wechat_app_id:
        raise ChannelNotConfigured("wechat: safe mode needs SHEQU_WECHAT_APP_ID")
    return AccountConfig("wechat", settings.wechat_token, settings.wechat_aes_key, settings.wechat_app_id,
                         settings.wechat_app_secret, None, settings.wechat_api_base.rstrip("/"))


def wecom_account(settings: Settings) -> AccountConfig:
    if not settings.wecom_token.get_secret_value():
        raise ChannelNotConfigured("wecom: SHEQU_WECOM_TOKEN is not set")
    # WeCom callbacks are always encrypted, with the CorpID as the receive id.
    if not settings.wecom_aes_key.get_secret_value() or not settings.wecom_corp_id:
        raise ChannelNotConfigured("wecom: SHEQU_WECOM_AES_KEY and SHEQU_WECOM_CORP_ID are required")
    _check_aes_key("wecom", settings.wecom_aes_key)
    agent_id: int | None = None
    if settings.wecom_agent_id.strip():
        if not settings.wecom_agent_id.strip().isdigit():
            raise ChannelNotConfigured("wecom: SHEQU_WECOM_AGENT_ID must be a number")
        agent_id = int(settings.wecom_agent_id.strip())
    return AccountConfig("wecom", settings.wecom_token, settings.wecom_aes_key, settings.wecom_corp_id,
                         settings.wecom_secret, agent_id, settings.wecom_api_base.rstrip("/"))


def load_accounts(settings: Settings) -> tuple[dict[str, AccountConfig], dict[str, str]]:
    """The configured accounts, and for the others why they are off (no secrets in the reasons)."""
    accounts: dict[str, AccountConfig] = {}
    disabled: dict[str, str] = {}
    for kind, build in (("wechat", wechat_account), ("wecom", wecom_account)):
        try:
            accounts[kind] = build(settings)
        except ChannelNotConfigured as e:
            disabled[kind] = str(e)
    return accounts, disabled
