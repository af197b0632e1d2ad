"""Action intents: the skills a robot offers (one YAML file), and the response schema the brain must fill."""
