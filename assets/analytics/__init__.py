"""Analytics: churn model, segments, revenue forecast, price elasticity, anomalies."""
