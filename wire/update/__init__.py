"""What a kiosk and the fleet both check of an update bundle: the signed manifest, the bundle, and why one is refused."""
