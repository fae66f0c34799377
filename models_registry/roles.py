"""Which permissions of the model registry each role has (collected by core.roles)."""

PERMISSIONS = {
    "*": ["models_registry.view_registeredmodel", "models_registry.view_modelversion"],
    "data-scientist": [
        "models_registry.add_registeredmodel",
        "models_registry.change_registeredmodel",
        "models_registry.add_modelversion",
        "models_registry.change_modelversion_status",
        "models_registry.sync_model_store",
    ],
    "release-manager": ["models_registry.change_modelversion_status"],
}
