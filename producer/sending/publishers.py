"""One target per declared topic, so concurrent publishes to a topic share PublishBatch calls."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from producer.sending.sender import make_sender
from producer.sending.targets import Target
from shared.aws import SnsTopic, build_client
from shared.topology.topics import TopicsConfig

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient

    from shared.settings import Settings


class TopicPublishers:
    """The topics the file declares, each with its SNS wrapper and its sender."""

    def __init__(self, config: TopicsConfig, targets: dict[str, Target]) -> None:
        self.config = config
        self._targets = targets

    @classmethod
    def build(
        cls, config: TopicsConfig, settings: Settings, client: SNSClient | None = None
    ) -> TopicPublishers:
        """No SNS client is made when no topic is declared."""
        if not config.topics:
            return cls(config, {})
        client = client or build_client("sns", settings)
        targets = {}
        for declaration in config.topics:
            topic = SnsTopic(client, declaration.name)
            targets[declaration.name] = Target(
                topic,
                make_sender(topic, settings.producer),
                content_based_deduplication=declaration.content_based_deduplication,
                delays=False,
            )
        return cls(config, targets)

    def get(self, name: str) -> Target | None:
        return self._targets.get(name)

    async def close(self) -> None:
        """Publish what is pending on every topic."""
        await asyncio.gather(*(target.sender.close() for target in self._targets.values()))
