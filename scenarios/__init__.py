"""Scripted citizens that drive a kiosk for demos, screenshots and end-to-end tests: through
its real widgets (`citizen`, `gallery`) or its intents (`headless_citizen`, `headless_hall`).
Outside the layers: they drive the kiosk, they are not hardware (that is `simulator/`)."""
