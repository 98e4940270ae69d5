"""Protect a department API with 一号通 access tokens: JWT (RFC 9068) or opaque (RFC 7662),
Bearer (RFC 6750) or DPoP-bound (RFC 9449), scope and acr checks, back-channel logout."""

from yihaotong_resource.config import ResourceConfig
from yihaotong_resource.dpop import thumbprint
from yihaotong_resource.errors import Refusal, UseDPoPNonce
from yihaotong_resource.gateway import Gateway, GatewayUnavailable
from yihaotong_resource.guard import Requirement, ResourceServer
from yihaotong_resource.logout import logout_route, validate_logout_token
from yihaotong_resource.nonces import DPoPNonces
from yihaotong_resource.principal import Principal
from yihaotong_resource.replay import MemoryReplayCache, RedisReplayCache, ReplayCache

__all__ = [
    "DPoPNonces",
    "Gateway",
    "GatewayUnavailable",
    "MemoryReplayCache",
    "Principal",
    "RedisReplayCache",
    "Refusal",
    "ReplayCache",
    "Requirement",
    "ResourceConfig",
    "ResourceServer",
    "UseDPoPNonce",
    "logout_route",
    "thumbprint",
    "validate_logout_token",
]
