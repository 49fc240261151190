"""Features: churn, revenue and price blueprints, and scikit-learn preprocessing."""
