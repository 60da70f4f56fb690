"""One sender per declared topic, so concurrent publishes to a topic share PublishBatch calls."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from producer.sender import Sender, make_sender
from shared.aws import build_sns_client
from shared.sns import SnsTopic
from shared.topics import Topic, TopicsConfig

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient

    from shared.settings import Settings


@dataclass(frozen=True)
class Publisher:
    declaration: Topic
    topic: SnsTopic
    sender: Sender


class TopicPublishers:
    """The topics the file declares, each with its SNS wrapper and its sender."""

    def __init__(self, config: TopicsConfig, publishers: dict[str, Publisher]) -> None:
        self.config = config
        self._publishers = publishers

    @classmethod
    def build(
        cls, config: TopicsConfig, settings: Settings, client: SNSClient | None = None
    ) -> TopicPublishers:
        """No SNS client is made when no topic is declared."""
        if not config.topics:
            return cls(config, {})
        client = client or build_sns_client(settings)
        publishers = {}
        for declaration in config.topics:
            topic = SnsTopic(client, declaration.name)
            sender = make_sender(topic, settings.producer)
            publishers[declaration.name] = Publisher(declaration, topic, sender)
        return cls(config, publishers)

    def get(self, name: str) -> Publisher | None:
        return self._publishers.get(name)

    async def close(self) -> None:
        """Publish what is pending on every topic."""
        await asyncio.gather(*(p.sender.close() for p in self._publishers.values()))
