"""Task definitions: the platform team's names for job steps, stored and matched."""
