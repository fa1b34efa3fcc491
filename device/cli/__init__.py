"""device/cli"""
