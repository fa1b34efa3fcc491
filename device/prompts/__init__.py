"""device/prompts"""
