"""device/config"""
