"""What each chapter shows: its context (checked data of one year), values, figures and tables."""
