"""Agency PKI and XML signatures of EDXML packages. No Kafka, no database."""
