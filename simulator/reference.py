"""Identifiers of the simulator's reference data that scripted citizens and tests use."""

# Service codes of the reference catalog (simulator/assets/reference_catalog.json).
ENDORSEMENT = "442000-CRJ-0007"
FOREIGNER_ACCOMMODATION = "442000-CRJ-0018"  # a visitor's passport: its chip keys from its page
BILL_PAYMENT = "442000-BM-0001"
CERTIFICATE_PRINT = "442000-GA-0031"
CREDIT_REPORT = "442000-BM-0010"  # paid per printed copy
QUEUE_TICKET = "442000-PD-0001"
MATERIALS_PREREVIEW = "442000-HZ-0012"
TRAFFIC_FINE = "442000-JJ-0001"
PROGRESS_LOOKUP = "442000-PD-0002"
APPOINTMENT_BOOKING = "442000-PD-0003"
DOCUMENT_COLLECTION = "442000-PD-0004"
SERVICE_RATING = "442000-PD-0005"
# A traffic-penalty decision (决定书编号) due in the simulated fines backend, and one overdue.
FINE_DECISION = "4420001234567890"
FINE_DECISION_OVERDUE = "4420009876543210"
# A mobile number the scripted citizen types for text messages.
CITIZEN_PHONE = "13812345678"
# A water account with a bill due in the simulated utility backend.
WATER_ACCOUNT = "3100123456789"
# The technician PIN the scripted technician types (its hash goes in the test configuration).
TECHNICIAN_PIN = "864213"
