"""The provider layer: small typed interfaces (``base``), vendor and offline
implementations, and the registry that picks one per interface from settings."""
