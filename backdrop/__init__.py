"""Backdrop: a Kafka-native pipeline that replaces the background of videos and images."""

__version__ = "0.1.0"
