"""Reading and checking the inputs (Cafdata, reference tables, registers, geography, open-data series), fetching them, the demo set. This layer knows nothing of the report."""
