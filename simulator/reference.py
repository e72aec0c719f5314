"""Identifiers of the simulator's reference data that scripted citizens and tests use."""

# Service codes of the reference catalog (simulator/assets/reference_catalog.json).
ENDORSEMENT = "442000-CRJ-0007"
BILL_PAYMENT = "442000-BM-0001"
CERTIFICATE_PRINT = "442000-GA-0031"
CREDIT_REPORT = "442000-ZX-0002"  # paid per printed copy
QUEUE_TICKET = "442000-PD-0001"
MATERIALS_PREREVIEW = "442000-HZ-0012"
# A water account with a bill due in the simulated utility backend.
WATER_ACCOUNT = "3100123456789"
# The technician PIN the scripted technician types (its hash goes in the test configuration).
TECHNICIAN_PIN = "864213"
