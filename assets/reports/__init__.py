"""Reports: insights, recommendations, HTML reports with charts, and exports."""
