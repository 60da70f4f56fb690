"""Reading a received body in whichever format its sender wrote: ours or a foreign one.

One module per format, tried in order by `reading`: our envelope, an SNS notification
(unwrapped, and what it carries read again), an S3 event notification, an EventBridge
event, any other JSON object, and text. Each turns a body into envelopes a handler can take.
"""

from shared.messages.formats.reading import Incoming, NotReadableError, read_message

__all__ = ["Incoming", "NotReadableError", "read_message"]
