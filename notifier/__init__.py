"""notifier: tells moderators and the InfoLine about the blog comments that matter."""

__version__ = "0.1.0"
